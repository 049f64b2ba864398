"""autoglm-runpod: read the stack's settings, refuse what cannot work, then build the service and export it."""

import pulumi

from components.settings import load_settings, preflight

settings, secrets = load_settings()
preflight(settings)

pulumi.export("gpu_types", list(settings.gpu_types))
pulumi.export("cuda_floor", settings.cuda_floor.cuda)
pulumi.export("min_driver", settings.cuda_floor.min_driver)
pulumi.export("base_image", settings.base_image)
