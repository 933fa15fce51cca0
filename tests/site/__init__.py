"""Tests of the built public site (bot/site/)."""
