"""People, groups, API tokens, providers and sign-in: who someone is and which groups they act in."""
