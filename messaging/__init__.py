"""Messaging core (tenant schema): the message store shared by the outbound and inbound
pipelines — hash-addressed raw bytes, messages with an explicit state machine, append-only
transitions, categorised exceptions and the client-visible event feed.

The pipelines live in sub-apps: ``messaging.outbound`` (client submissions → signed DIP sends)
and ``messaging.inbound`` (DIP webhooks → storage → client delivery)."""
