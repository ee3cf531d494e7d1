"""The office's local web page (`kaohe serve`) and the offline results dashboard.

Only app.py, routes.py, the pages (page_*.py) and security.py import the web framework; folder.py, views.py and
dashboard.py are plain modules the output writers may use.
"""
