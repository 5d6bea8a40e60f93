"""The consumer web app (mobile-first), served by the gateway at /app."""
