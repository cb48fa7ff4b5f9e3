"""Clients for the manga sites the pipeline reads chapters from (today: the NetTruyen family)."""
