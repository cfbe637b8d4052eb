"""Training data: exact label masking, the over-long policy, epoch plans and batching; the DeepSpeed config."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from judgelm_ray.spec import AugmentSpec, TrainDataSpec, TrainSpec
from judgelm_ray.train import augment, data
from judgelm_ray.train.deepspeed import deepspeed_config
from support import REPO

TRAIN_TINY = REPO / "jobs" / "data" / "train-tiny.jsonl"


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_labels_cover_exactly_the_judgment_and_eos(tokenizer):
    examples, _ = data.load_examples(TrainDataSpec(path=str(TRAIN_TINY)), AugmentSpec(), tokenizer, 2048)
    for epoch in range(3):
        for example in examples:
            sample = augment.draw(example, AugmentSpec(), epoch)
            encoded = data.encode(sample, tokenizer)
            prompt_ids = tokenizer(sample.prompt)["input_ids"]
            n_prompt = len(prompt_ids)
            # The prompt part is what a judge engine feeds the model, token for token, and is masked.
            assert encoded.input_ids[:n_prompt] == prompt_ids
            assert encoded.labels[:n_prompt] == [data.IGNORE_INDEX] * n_prompt
            # Everything after it counts: the judgment, then EOS.
            judged = encoded.labels[n_prompt:]
            assert judged == encoded.input_ids[n_prompt:] and data.IGNORE_INDEX not in judged
            assert judged[-1] == tokenizer.eos_token_id
            assert tokenizer.decode(judged[:-1]) == sample.target
            assert tokenizer.decode(encoded.input_ids[1:]) == sample.prompt + sample.target + tokenizer.eos_token


def test_collate_pads_right_and_masks_padding(tokenizer):
    short = data.Encoded([1, 5, 6], [-100, 5, 6])
    long = data.Encoded([1, 7, 8, 9, 2], [-100, -100, 8, 9, 2])
    batch = data.collate([short, long], pad_id=3)
    assert batch["input_ids"].tolist() == [[1, 5, 6, 3, 3], [1, 7, 8, 9, 2]]
    assert batch["labels"].tolist() == [[-100, 5, 6, -100, -100], [-100, -100, 8, 9, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_over_long_examples_are_dropped_whole(tokenizer, tmp_path):
    aug = AugmentSpec()
    full, dropped = data.load_examples(TrainDataSpec(path=str(TRAIN_TINY)), aug, tokenizer, 2048)
    assert len(full) == 24
    assert dropped == {
        "field 'text': teacher judgment is missing, marked error or unparseable": 1,
        "field 'text_w_reference': teacher judgment is missing, marked error or unparseable": 1,
    }
    longest = {e.id: max(len(data.encode(v, tokenizer).input_ids) for v in augment.variants(e, aug)) for e in full}
    limit = sorted(longest.values())[len(longest) // 2]
    kept, dropped = data.load_examples(TrainDataSpec(path=str(TRAIN_TINY)), aug, tokenizer, limit)
    assert {e.id for e in kept} == {i for i, n in longest.items() if n <= limit}
    assert dropped["too long"] == sum(n > limit for n in longest.values()) > 0


def test_epoch_plans_split_each_step_over_workers():
    order = data.epoch_order(40, seed=0, epoch=1)
    assert sorted(order) == list(range(40))
    assert np.array_equal(order, data.epoch_order(40, seed=0, epoch=1))
    assert not np.array_equal(order, data.epoch_order(40, seed=0, epoch=2))
    for step in range(5):  # 5 steps of 8: each example exactly once, split evenly over 2 workers
        shares = [data.worker_share(order, step, 8, rank, 2) for rank in range(2)]
        assert [len(s) for s in shares] == [4, 4]
        assert np.array_equal(np.concatenate(shares), order[step * 8 : (step + 1) * 8])


def test_micro_batches_group_similar_lengths():
    encoded = [data.Encoded([0] * n, [0] * n) for n in (9, 2, 7, 3)]
    batches = data.micro_batches(encoded, 2)
    assert [[len(e.input_ids) for e in b] for b in batches] == [[2, 3], [7, 9]]


def _train(**kw) -> TrainSpec:
    return TrainSpec.model_validate({"base_model": "m", "data": {"path": "d"}, **kw})


def test_deepspeed_config_follows_the_spec():
    train = _train(scaling={"num_workers": 8}, micro_batch_size=4)
    config = deepspeed_config(train, total_steps=2000)
    assert config["train_batch_size"] == 128 and config["gradient_accumulation_steps"] == 4
    assert config["train_micro_batch_size_per_gpu"] == 4
    assert config["bf16"] == {"enabled": True}
    assert config["zero_optimization"]["stage"] == 3
    assert config["optimizer"] == {
        "type": "AdamW", "params": {"lr": 2e-5, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}
    }
    assert config["scheduler"]["type"] == "WarmupCosineLR"
    assert config["scheduler"]["params"]["warmup_num_steps"] == 60  # ceil(0.03 x 2000)
    assert config["scheduler"]["params"]["total_num_steps"] == 2000
    rendered = deepspeed_config(train)
    assert rendered["scheduler"]["params"]["total_num_steps"] == "auto"
    json.dumps(rendered)


def test_deepspeed_config_offload_and_cpu_workers():
    offload = deepspeed_config(_train(deepspeed={"zero_stage": 3, "offload_optimizer": True, "offload_params": True}))
    assert offload["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert offload["zero_optimization"]["offload_param"]["device"] == "cpu"
    cpu = deepspeed_config(_train(deepspeed={"zero_stage": 2}, scaling={"gpus_per_worker": 0}, dtype="float32"))
    assert cpu["optimizer"]["params"]["torch_adam"] is True and cpu["bf16"] == {"enabled": False}
    assert "stage3_gather_16bit_weights_on_model_save" not in cpu["zero_optimization"]
