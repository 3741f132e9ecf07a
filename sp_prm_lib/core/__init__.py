"""Core: errors, settings (paths), validation, bootstrap intervals and the artifact cache.

Imports nothing else of ``sp_prm_lib``.
"""
