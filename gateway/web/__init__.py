"""Static pages served by gateway.web_routes (a package only so the files ship as package data)."""
