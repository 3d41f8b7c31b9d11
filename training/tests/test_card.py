"""Model-card wall times from training logs (card.stage_walls)."""
import unittest

from training import card


class StageWalls(unittest.TestCase):
    def test_two_adapt_cycles_of_a_full_run(self):
        log = ["t dense: done test_acc 0.86 wall_s 6000", "t stage dense wall_s 100",
               "t dense: done 'dense' test_acc 0.88 wall_s 2700 (with earlier cycles 8700)",
               "t stage dense2 wall_s 2710",
               "t adapt-c1: step 100/2400 loss 1.4 wall_s 99",
               "t adapt-c1: done dense test_acc 0.85 wall_s 2500", "t stage adapt wall_s 2520",
               "t adapt: done dense test_acc 0.86 wall_s 2400", "t stage adapt2 wall_s 2410",
               "t stage latency wall_s 300"]
        self.assertEqual(card.stage_walls(log), [("dense", 6000), ("dense2", 2700), ("adapt", 2500),
                                                 ("adapt2", 2400), ("latency", 300)])

    def test_single_dense_cycle(self):
        # one cosine cycle written as dense.pt directly: stage dense, no dense2
        log = ["t dense: resumed from x/dense-last.pt at epoch 4",
               "t dense: done 'dense' test_acc 0.89 wall_s 3500", "t stage dense wall_s 3300",
               "t bank: done dense test_acc 0.88 wall_s 200", "t stage bank wall_s 210"]
        self.assertEqual(card.stage_walls(log), [("dense", 3500), ("bank", 200)])

    def test_older_log_names_cycle_one_adapt(self):
        # cycle 1 logged as 'adapt' (before --name); a later line names stage adapt2
        log = ["t adapt: done dense test_acc 0.85 wall_s 2547", "t stage adapt wall_s 2568",
               "t note: cycle 2 of the adapt stage (stage adapt2) below",
               "t adapt: done dense test_acc 0.86 wall_s 2531"]
        self.assertEqual(card.stage_walls(log), [("adapt", 2547), ("adapt2", 2531)])

    def test_single_adapt_cycle(self):
        log = ["t adapt: done dense test_acc 0.85 wall_s 2547", "t stage adapt wall_s 2568",
               "t stage qat wall_s 383"]
        self.assertEqual(card.stage_walls(log), [("adapt", 2547), ("qat", 383)])

    def test_repeated_stage_keeps_the_last_run(self):
        log = ["t stage latency wall_s 433", "t stage masks wall_s 100", "t stage latency wall_s 315"]
        self.assertEqual(card.stage_walls(log), [("latency", 315), ("masks", 100)])


class PlotPath(unittest.TestCase):
    def test_a_run_never_writes_the_card_png_unless_told(self):
        import argparse
        import os
        from training.stages import evaluate
        ns = argparse.Namespace
        card_png = os.path.join(evaluate.ARTIFACTS, "accuracy_vs_macs.png")
        self.assertEqual(evaluate.plot_path(ns(plot="/r/x.png", out_dir="/r", quick=False)), "/r/x.png")
        self.assertEqual(evaluate.plot_path(ns(plot="/r/x.png", out_dir="/r", quick=True)), "/r/x.png")
        self.assertEqual(evaluate.plot_path(ns(plot=None, out_dir="/r", quick=True)),
                         "/r/accuracy_vs_macs.png")
        self.assertEqual(evaluate.plot_path(ns(plot=None, out_dir="/r", quick=False)), card_png)

    def test_replot_reads_only_a_complete_results_file(self):
        import json
        import os
        import tempfile
        from training.stages import evaluate
        ok = {"curve_images": 1000, "int8_dense_curve": {"accuracy": 0.9, "macs_per_image": 3e7},
              "int8_schedules": {"heatvit": [{"name": "default", "accuracy": 0.88, "macs_per_image": 2e7}],
                                 "dynamicvit_topk": [], "evit_cls_topk": []}}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "results.json")
            with open(p, "w") as f:
                json.dump(ok, f)
            self.assertEqual(evaluate.load_results(p)["curve_images"], 1000)
            for broken, field in (({k: v for k, v in ok.items() if k != "int8_dense_curve"},
                                   "int8_dense_curve"),
                                  (dict(ok, int8_schedules={"heatvit": []}), "int8_schedules.heatvit"),
                                  (dict(ok, int8_schedules={"heatvit": ok["int8_schedules"]["heatvit"]}),
                                   "int8_schedules.dynamicvit_topk"),
                                  ([], "not an object")):
                with open(p, "w") as f:
                    json.dump(broken, f)
                with self.assertRaises(ValueError) as e:
                    evaluate.load_results(p)
                self.assertIn(p, str(e.exception))
                self.assertIn(field, str(e.exception))
            with open(p, "w") as f:
                f.write("{not json")
            with self.assertRaisesRegex(ValueError, "not valid JSON"):
                evaluate.load_results(p)
            with self.assertRaisesRegex(ValueError, "results file not found"):
                evaluate.load_results(os.path.join(d, "none.json"))


if __name__ == "__main__":
    unittest.main()
