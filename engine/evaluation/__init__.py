"""Provider evaluation: process metrics, measures, scoring, monthly scorecards, the annual
assessment and its configuration."""
