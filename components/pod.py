"""Kept so that state written before the package layout still loads: dill recorded the pod provider as
`components.pod.PodProvider`. The code lives in `components/providers/pod.py`."""

from components.providers.pod import POD_TYPE, Pod, PodArgs, PodError, PodProvider

__all__ = ["POD_TYPE", "Pod", "PodArgs", "PodError", "PodProvider"]
