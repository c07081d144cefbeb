"""Process definitions: reading BPMN/DMN safely, checking and deploying immutable versions, the
parsed-spec cache, forms, scripting and comparison."""
