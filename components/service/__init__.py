"""The stack's composition: `AutoGLMService` (stack.py) wires the image (images.py; promotion.py), the key that
guards /v1 (keys.py), what serves the model (pod.py: one RunPod pod; endpoint.py: a RunPod Serverless endpoint,
with its pools and prices from the live catalog, live_catalog.py), how its container starts (launch.py) and the
health check, and gives the stack outputs."""

from components.service.endpoint import EndpointDeployment, serverless_plan
from components.service.images import READY_IMAGE_WARNING, ImageChoice, choose_image, private_image_warning
from components.service.keys import PUBLIC_ENDPOINT_WARNING, vllm_api_key
from components.service.launch import SERVED_PORT
from components.service.pod import OWN_VOLUME_MOUNT_PATH, PodDeployment
from components.service.promotion import PromotionError, promoted_image_ref, qualified_stack_name
from components.service.stack import AutoGLMService

__all__ = ["OWN_VOLUME_MOUNT_PATH", "PUBLIC_ENDPOINT_WARNING", "READY_IMAGE_WARNING", "SERVED_PORT", "AutoGLMService",
           "EndpointDeployment", "ImageChoice", "PodDeployment", "PromotionError", "choose_image",
           "private_image_warning", "promoted_image_ref", "qualified_stack_name", "serverless_plan", "vllm_api_key"]
