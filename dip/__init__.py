"""The DIP protocol library: plain Python, no Django.

Envelope, interface catalogue, identifiers, staged validation, signing and verification,
and a Send API client for Elexon's Data Integration Platform. The web app, the workers and
the DIP sandbox all use this package; nothing here may import Django (a test enforces it).
"""
