"""Exact counts with the real ``mistral-common`` (installed with the test extras), offline."""

from gatewise.catalogue import count_tokens

SAMPLE = [{"role": "system", "content": "You are helpful."},
          {"role": "user",
           "content": "Who is the best French painter? Answer in one short sentence."}]


def test_bundled_tokenizer_gives_the_reference_count() -> None:
    # mistral-api.md §13: 20 prompt tokens with the bundled Tekken v3 (Nemo).
    count = count_tokens(model="mistral/open-mistral-nemo", messages=SAMPLE)
    assert count.exact
    assert count.tokens == 20


def test_plain_text_count_with_a_bundled_tokenizer() -> None:
    count = count_tokens(model="mistral/open-mistral-nemo",
                         text="Who is the best French painter?")
    assert count.tokens == 7
    assert count.exact


def test_newer_models_are_counted_with_the_stand_in_and_say_so() -> None:
    count = count_tokens(model="mistral/mistral-small-latest", messages=SAMPLE)
    assert not count.exact
    assert 15 <= count.tokens <= 30
