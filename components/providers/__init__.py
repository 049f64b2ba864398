"""The stack's Pulumi dynamic providers, one RunPod resource each, on shared machinery.

`base` (configure, the RunPod client, errors and secrets), `schema` (a resource's inputs declared once: keys,
defaults, checks, the settings behind them, what forces a replacement), then one set of modules per
resource: `pod` (the provider and resource), `pod_inputs`, `pod_rules`, `pod_ops`, `pod_placement`,
`pod_landings`. A serverless endpoint or a network volume is a new `endpoint*` / `volume*` set beside them.
Nothing here runs at import: the provider host imports these modules to unpickle the providers.
"""
