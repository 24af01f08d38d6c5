"""Cache Patterns Lab: the entry point only routes to the pages (see lab_ui/routing.py: route)."""

from lab_ui import route

route()
