"""What the volume provider does to one volume, for one call: find ours by name, choose a data center, create
(recovering a create whose answer was lost), grow, and delete until RunPod confirms.

RunPod has no tags, so the volume's deterministic name (`autoglm-runpod-<stack>-<resource>`) is how it is found
again: before creating, a volume of our name and tier (in the pinned data center, if any) is adopted, whether a
destroy kept it (`retainModelCache`) or a create's answer was lost. `VolumeCall` holds the call's client and
checked inputs, so nothing per call lives on the (pickled, shared) provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import tuning
from components.names import setting
from components.placement import table_fits
from components.providers.base import landing_grace_s
from components.providers.deleting import delete_until_gone
from components.providers.volume_inputs import VolumeSpec, monthly_price
from components.runpod import TRANSIENT, RunPodClient, RunPodError, ServerError, TransportError, VolumeInfo
from components.volume_placement import NoSite, choose_site
from components.waiting import Deadline, WaitTimedOut, pauses, wait_until

__all__ = ["VolumeCall", "VolumeError"]


class VolumeError(RuntimeError):
    """A volume could not be brought to (or out of) the declared state; the message says why and what to do."""


@dataclass
class VolumeCall:
    client: RunPodClient
    spec: VolumeSpec

    # ---- creating --------------------------------------------------------------------------------------------

    def create(self) -> VolumeInfo:
        """Ours by name if it exists (grown to the declared size), else a new one in the chosen data center."""
        found = self.find_ours()
        if found is not None:
            pulumi.log.warn(f"{self.spec.describe()}: adopting volume {found.id} of that name in {found.data_center} "
                            f"({found.size_gb} GB, kept by an earlier destroy or made by a create whose answer was "
                            "lost): its cache is reused")
            return self.grow(found)
        data_center = self.data_center()
        try:
            made = self.client.volumes.create(self.spec.create_body(data_center))
        except (ServerError, TransportError) as e:
            made = self._lost_create(e)
        pulumi.log.info(f"{self.spec.describe()}: created {made.id} in {made.data_center} ({made.size_gb} GB "
                        f"{made.type}{_price(made)})")
        return made

    def find_ours(self) -> VolumeInfo | None:
        """The volume of our name, tier (and pinned data center) to adopt; the largest when there are several."""
        spec = self.spec
        ours = [v for v in self.client.volumes.list() if v.name == spec.name and v.type == spec.volume_type
                and spec.data_center_id in (None, v.data_center)]
        if len(ours) > 1:
            others = ", ".join(f"{v.id} ({v.data_center}, {v.size_gb} GB)" for v in ours)
            pulumi.log.warn(f"{spec.describe()}: {len(ours)} volumes have this name ({others}); adopting the largest. "
                            "The others bill until deleted in RunPod's console (Storage)")
        return max(ours, key=lambda v: v.size_gb) if ours else None

    def data_center(self) -> str:
        """The pinned data center (checked to offer the tier), else the one `choose_site` picks from the catalog."""
        spec = self.spec
        try:
            offering = self.client.catalog.data_centers(network_volume_type=spec.volume_type)
            if spec.data_center_id is not None:
                if spec.data_center_id not in offering:
                    raise VolumeError(f"{spec.describe()}: data center {spec.data_center_id} "
                                      f"({setting('modelCacheDataCenter')}) offers no {spec.volume_type} network "
                                      f"volumes; those that do: {', '.join(offering) or 'none'}")
                return spec.data_center_id
            offers = {product: self.client.catalog.offers(product=product, count=spec.gpu_count, cloud="SECURE",
                                                          min_cuda_version=spec.min_cuda_version)
                      for product in spec.products}
        except RunPodError as e:
            raise VolumeError(f"{spec.describe()}: choosing its data center needs RunPod's catalog, which could not "
                              f"be read ({e}); nothing was created. Retry, or set {setting('modelCacheDataCenter')}"
                              ) from None
        try:
            site = choose_site(offering, offers, wanted=spec.gpu_type_ids, fits=table_fits(spec.auto_gpu_type_ids),
                               gpu_count=spec.gpu_count, max_cost_per_hour=spec.max_cost_per_hour)
        except NoSite as e:
            raise VolumeError(f"{spec.describe()}: {e}. Nothing was created.") from None
        best = f"; cheapest GPU there now: {site.candidates[0].describe()}" if site.candidates else ""
        pulumi.log.info(f"{spec.describe()}: data center {site.data_center} offers {spec.volume_type} volumes and "
                        f"has the GPU types it serves free{best}")
        return site.data_center

    def _lost_create(self, error: RunPodError) -> VolumeInfo:
        """A create answered with a 5xx or not at all may still have made the volume, even minutes later: look for
        it by name until the landing grace after the create ends (RUNPOD_LANDING_GRACE_S, at least the create's
        read timeout), and claim no more than the looks showed."""
        answered: list[bool] = []

        def look() -> VolumeInfo | None:
            try:
                found = self.find_ours()
            except RunPodError as e:
                pulumi.log.warn(f"{self.spec.describe()}: could not list volumes ({e}); looking again")
                return None
            answered.append(True)
            return found

        grace = landing_grace_s(self.client)
        try:
            found = wait_until(look, lambda volume: volume is not None, deadline=Deadline(grace),
                               pauses=pauses(tuning.seconds(tuning.POLL_INTERVAL), factor=1.0))
        except WaitTimedOut:
            if not answered:
                raise VolumeError(
                    f"{self.spec.describe()}: RunPod failed the create ({error}), and listing volumes failed for "
                    f"{grace:g} s after it, so whether it made the volume is unknown. RunPod's console (Storage) "
                    f"shows any volume named {self.spec.name!r}; `pulumi up` again adopts it, and creates it "
                    "otherwise.") from None
            raise VolumeError(f"{self.spec.describe()}: RunPod failed the create ({error}) and no volume of that "
                              f"name appeared within {grace:g} s. Run `pulumi up` again: it adopts a volume of this "
                              "name should RunPod make one later, and creates it otherwise.") from None
        assert found is not None
        pulumi.log.warn(f"{self.spec.describe()}: RunPod answered the create with an error ({error}) but made volume "
                        f"{found.id}; adopting it")
        return found

    # ---- growing ---------------------------------------------------------------------------------------------

    def grow(self, volume: VolumeInfo) -> VolumeInfo:
        """Rename and grow to the declared name and size (never shrink: RunPod refuses it)."""
        patch: dict[str, object] = {}
        if volume.name != self.spec.name:
            patch["name"] = self.spec.name
        if self.spec.size_gb > volume.size_gb:
            patch["size"] = self.spec.size_gb
        if not patch:
            return volume
        pulumi.log.info(f"{self.spec.describe()}: updating {', '.join(sorted(patch))} of {volume.id}"
                        + (f" ({volume.size_gb} → {self.spec.size_gb} GB)" if "size" in patch else ""))
        return self.client.volumes.update(volume.id, patch)

    # ---- deleting --------------------------------------------------------------------------------------------

    def delete(self, volume_id: str, size_gb: int | None, volume_type: str | None) -> None:
        """DELETE until RunPod confirms (204, or a read that says 404), for at most RUNPOD_STOP_TIMEOUT_S."""
        done = delete_until_gone(lambda: self.client.volumes.delete(volume_id),
                                 lambda: self.client.volumes.get(volume_id), retried=TRANSIENT)
        if done.outcome == "gone":
            pulumi.log.info(f"volume {volume_id} was already gone")
        elif not done.confirmed:
            raise VolumeError(_still_there(volume_id, done.error, size_gb, volume_type))


def _price(volume: VolumeInfo) -> str:
    price = monthly_price(volume.size_gb, volume.type)
    return f", ${price:.2f}/month" if price is not None else ", priced per data center by RunPod"


def _still_there(volume_id: str, error: RunPodError | None, size_gb: int | None, volume_type: str | None) -> str:
    price = monthly_price(size_gb, volume_type or "") if size_gb else None
    bills = f" (${price:.2f}/month)" if price is not None else ""
    return (f"deleting network volume {volume_id} failed ({error}): it may still exist and bill{bills} until it is "
            "deleted. Run `pulumi destroy` (or `pulumi up`) again to retry, or delete it in RunPod's console "
            "(Storage).")
