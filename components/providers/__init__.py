"""The stack's Pulumi dynamic providers, one RunPod resource each, on shared machinery.

`base` (configure, the RunPod client, errors and secrets), `schema` (a resource's inputs declared once: keys,
defaults, checks, the settings behind them, what forces a replacement), `checks` (the value checks they share),
`deleting` (DELETE until RunPod confirms), then one set of modules per resource: `pod*` (a GPU pod),
`endpoint*` (a serverless endpoint), `volume*` (a network volume) and `image_facts` (an image read from its
registry). The README's Layout section says what each module holds.
Nothing here runs at import: the provider host imports these modules to unpickle the providers.
"""
