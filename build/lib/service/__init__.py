"""Lonewatch: lone-worker safety for school home visits."""
