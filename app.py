"""Cache Patterns Lab: the entry point only routes to the pages (see pages/lab_ui.py: route)."""

from pages.lab_ui import route

route()
