"""crosswind: a sans-IO HTTP/1.1 and web-framework core."""
__version__ = "0.1.0"
