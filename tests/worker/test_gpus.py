from openfal.worker.gpus import GpuPool, gpus_needed


def test_gpus_needed_from_num_gpus_or_a_gpu_machine_type():
    assert gpus_needed({}) == 0
    assert gpus_needed({"machine_type": "CPU", "num_gpus": 0}) == 0
    assert gpus_needed({"machine_type": "GPU-A100"}) == 1
    assert gpus_needed({"machine_type": ["XS", "GPU-H100"]}) == 1
    assert gpus_needed({"machine_type": "GPU", "num_gpus": 2}) == 2


def test_a_managed_pool_hands_out_each_gpu_once():
    pool = GpuPool(["0", "1", "2"])
    a = pool.take(2)
    assert a == ["0", "1"] and pool.free == ["2"]
    assert pool.take(2) is None  # not enough left: the slot is for another host
    assert pool.take(0) == []
    pool.give(a)
    assert pool.free == ["0", "1", "2"]
    pool.give(["1", "7"])  # twice, or not ours: ignored
    assert pool.free == ["0", "1", "2"]
    assert pool.env(["0", "1"]) == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert pool.env([]) == {"CUDA_VISIBLE_DEVICES": ""}  # CPU apps see no GPU


def test_an_unmanaged_pool_never_limits_or_touches_the_environment():
    pool = GpuPool(None)
    assert pool.take(4) == [] and pool.env([]) == {} and pool.free == []
