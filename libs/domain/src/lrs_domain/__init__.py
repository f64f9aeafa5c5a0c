"""The pure core of the Learning Records Service: identifiers, batch formats, rules and decisions.

No I/O here: every function takes values and returns values.
"""
