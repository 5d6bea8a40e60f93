"""Push notifications through Firebase Cloud Messaging (PROTOCOL section 5).

``jobs`` says what happened and ``payload`` what a phone is shown (both pure); ``policy``
decides what an FCM answer means (pure); ``fcm`` is the only module that talks to
firebase-admin; ``worker`` holds the bounded queue and the one task that drains it, so a
slow or failing FCM never slows the message path.
"""
