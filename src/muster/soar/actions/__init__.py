"""Actions a playbook step can run: the registry (`base`) and the built-in ones."""
