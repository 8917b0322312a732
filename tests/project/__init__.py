"""Tests of the project as a whole: docs, README, packaging, import graph, suite layout, typing."""
