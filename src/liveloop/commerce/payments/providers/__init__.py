"""Payment providers: the demo provider and the WeChat Pay v3 adapter, behind one interface."""
