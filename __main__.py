"""autoglm-runpod: read the stack's settings, refuse what cannot work, then build the service and export it."""

import pulumi

from components.service import AutoGLMService
from components.settings import load_settings, preflight

settings, secrets = load_settings()
preflight(settings)

service = AutoGLMService("autoglm", settings, secrets)
for name, value in service.exports().items():
    pulumi.export(name, value)
pulumi.export("cuda_floor", settings.cuda_floor.cuda)
