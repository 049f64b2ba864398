"""autoglm-runpod: read the stack's settings, refuse what cannot work, then build the service and export it."""

import sys

import pulumi

from components.names import SERVICE
from components.service import AutoGLMService
from components.service.plan import placement_plan
from components.settings import load_settings, outside_pulumi, preflight

if problem := outside_pulumi():
    sys.exit(problem)
settings, secrets = load_settings()
preflight(settings)
placement = placement_plan(settings, secrets)  # before anything is registered: a budget nothing meets stops here

service = AutoGLMService(SERVICE, settings, secrets)
for name, value in service.exports().items():
    pulumi.export(name, value)
# Known at preview: what the pod will ask RunPod for (and, with a RunPod key at hand, the ranked candidates).
pulumi.export("plan", {"gpu_types": list(settings.gpu_types), "gpu_count": settings.gpu_count,
                       "cuda_floor": settings.cuda_floor.cuda, "min_driver": settings.cuda_floor.min_driver,
                       "base_image": settings.base_image, "image_source": settings.image_source, **placement})
