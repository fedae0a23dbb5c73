"""Scrapy spiders: one generic listing spider driven by a SiteConfig."""

from __future__ import annotations
