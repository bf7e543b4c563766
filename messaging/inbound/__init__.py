"""The inbound pipeline: DIP webhooks → verified, durable capture → fast acknowledgement →
async L4 validation and status replies → delivery to client systems (push and pull feed).
See docs/inbound.md."""
