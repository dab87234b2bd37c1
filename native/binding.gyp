{
  "targets": [
    {
      "target_name": "sigil_native",
      "sources": ["ecdsa_prehashed.c"]
    }
  ]
}
