"""The contracts of the Learning Records Service: every event, topic and code on the wire."""
