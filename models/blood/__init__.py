"""The blood-donation programme: donations (GB 18467-2011)."""

from models.blood.tables import BloodDonation

__all__ = [
    "BloodDonation",
]
