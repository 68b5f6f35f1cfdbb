"""Attestation statement formats python-fido2 does not verify itself."""
