# Entry points. README.md documents `make lab` and `make test`; the rest are building blocks.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export VENV
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: bootstrap test lint sanity unit integration lab lab-destroy clean

bootstrap:
	tests/harness/bootstrap.sh

## make test: install everything, then lint, sanity, unit and Molecule tests
test: bootstrap
	tests/harness/run-tests.sh

lint sanity unit integration: bootstrap
	tests/harness/run-tests.sh $@

## make lab: bring up the local container lab, run site.yml against it, then the benchmark
## (tests/harness/lab.sh: bootstrap without test tools, lab.yml, site.yml, benchmark.yml, each timed)
lab:
	tests/harness/lab.sh

lab-destroy:
	ansible-playbook -i inventory/localhost.yml playbooks/lab-destroy.yml

clean:
	rm -rf .cache
