# Convenience front end.  `make demo` and `make test` are the two commands of the README;
# both install missing Debian packages first (scripts/install-deps.sh).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

FUZZ_SECONDS ?= 60

.PHONY: all deps build test test-asan test-valgrind fuzz fuzz-smoke demo study bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# The full suite on the optimised (portable) build: every test on the best kernel path, the
# numeric ones again on each path below it (label simd), a few under valgrind (label
# valgrind); then the sanitizer build (ASan + UBSan) of the same tests except those labelled
# "slow" or "valgrind"; then a few seconds of each fuzz target (clang).
test: export SAETOX_WITH_CHROMIUM = 1
test: export SAETOX_WITH_FUZZ = 1
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory fuzz-smoke

test-valgrind: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L valgrind

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAETOX_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -LE 'slow|valgrind'

# libFuzzer targets of tests/fuzz/ (build-fuzz/, clang): FUZZ_SECONDS each, corpus kept in
# build-fuzz/fuzz-corpus/; crashing inputs land in build-fuzz/fuzz-artifacts/.
fuzz: export SAETOX_WITH_FUZZ = 1
fuzz: deps
	JOBS=$(JOBS) bash scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: export SAETOX_WITH_FUZZ = 1
fuzz-smoke: deps
	JOBS=$(JOBS) bash scripts/fuzz.sh --smoke 3

demo: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS) --target saetox
	./$(BUILD)/saetox demo --out demo-out

# The multi-seed study (README "The study (`saetox study`)") on ../shared/data at the scale of
# issue 19: 3 SAE seeds, toxic latents chosen on the RealToxicityPrompts texts outside a 30% hash
# split, steering evaluated on the toxic prompts inside it (243 of the 800), 25 continuations
# each, two-choice HellaSwag (400 items).
SHARED_DATA ?= ../shared/data
STUDY_OUT ?= study-out
study: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS) --target saetox
	./$(BUILD)/saetox study --out $(STUDY_OUT) --seeds 3 \
		--select-toxic $(SHARED_DATA)/rtp/toxic.jsonl --select-clean $(SHARED_DATA)/rtp/nontoxic.jsonl \
		--eval-prompts $(SHARED_DATA)/rtp/toxic.jsonl --split 0.3 --samples 25 \
		--bench $(SHARED_DATA)/hellaswag --sample-tokens 100000 --epochs 16

bench: build
	@for b in $(BUILD)/bench_*; do echo "== $$b"; $$b; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
