"""OpenDCP's DIP sandbox: a stand-in for Elexon's Data Integration Platform, run as its own process.

Plain Python + Starlette/uvicorn + httpx + the ``dip`` protocol library; it never imports the
platform (Django). Start it with ``python -m sandbox serve`` (see ``docs/sandbox.md``).
"""
