"""The brand console, served by the gateway at /console."""
