"""Training decision rules of the active selectors (net.PrunedDeit.forward)."""
import unittest

import numpy as np
import torch

from training.model.pruned import PrunedDeit
from training.stages.adapt import adapt_sched


class DecisionRuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(3)
        cls.model = PrunedDeit()
        rng = np.random.RandomState(5)
        cls.x = torch.from_numpy(rng.randint(0, 256, (12, 28, 28)).astype(np.uint8))

    def run_train(self, seed, rule, sched):
        torch.manual_seed(seed)
        return self.model(self.x, sched=sched, train_sel=True, return_aux=True, rule=rule)

    def test_hard_rule_is_the_inference_rule_at_the_batch_quantile(self):
        sched = [(3, 0.6)]
        out_a, aux_a = self.run_train(1, "hard", sched)
        out_b, aux_b = self.run_train(2, "hard", sched)
        # no sampling: the random state does not matter
        self.assertTrue(torch.equal(out_a, out_b))
        self.assertTrue(torch.equal(aux_a["masks"][3], aux_b["masks"][3]))
        # the decisions are those of inference at the batch's (1 - keep) quantile threshold
        s = aux_a["scores"][3].detach()
        t = float(torch.quantile(s.flatten(), 1 - 0.6))
        with torch.no_grad():
            out_i, aux_i = self.model(self.x, sched=sched, thresholds={3: t}, return_aux=True)
        self.assertTrue(torch.equal(aux_i["masks"][3], aux_a["masks"][3]))
        self.assertTrue(torch.allclose(out_i, out_a, atol=1e-5))
        kept = aux_a["masks"][3].float().mean().item()
        self.assertAlmostEqual(kept, 0.6, delta=1.0 / s.numel() + 1e-6)

    def test_hard_rule_passes_gradients_to_the_selector(self):
        sched = [(2, 0.5)]
        self.model.zero_grad()
        out, _ = self.run_train(1, "hard", sched)
        out.logsumexp(-1).sum().backward()
        g = sum(p.grad.abs().sum().item() for p in self.model.selectors["2"].parameters()
                if p.grad is not None)
        self.assertGreater(g, 0.0)

    def test_recentre_is_an_exact_shift_that_changes_no_decision(self):
        import copy
        from training.stages.adapt import recentre_selectors
        m = copy.deepcopy(self.model)
        for sel in m.selectors.values():       # a drifted offset, as after the adapt stage
            for l4 in sel.l4:
                l4.bias.data[1] += 200.0
        with torch.no_grad():
            _, a0 = m(self.x, probe=True, return_aux=True)
        shifts = recentre_selectors(m, self.x, floor=16.0)
        with torch.no_grad():
            _, a1 = m(self.x, probe=True, return_aux=True)
        for b, c in shifts.items():
            self.assertGreater(c, 150.0)
            d = a0["scores"][b] - a1["scores"][b]
            self.assertTrue(torch.allclose(d, torch.full_like(d, c), atol=1e-3))
            self.assertAlmostEqual(float(torch.quantile(a1["scores"][b].flatten(), 0.001)), 16.0, places=3)
        # the same schedule at shifted thresholds makes the same decisions
        sched = [(3, 0.6), (7, 0.5)]
        t0 = {3: float(a0["scores"][3].median()), 7: 0.0}
        t1 = {3: t0[3] - shifts[3], 7: 0.0 - shifts[7]}
        m0 = copy.deepcopy(m)
        for b in (3, 7):
            for l4 in m0.selectors[str(b)].l4:
                l4.bias.data[1] += shifts[b]
        with torch.no_grad():
            _, r0 = m0(self.x, sched=sched, thresholds=t0, return_aux=True)
            _, r1 = m(self.x, sched=sched, thresholds=t1, return_aux=True)
        for b in (3, 7):
            self.assertTrue(torch.equal(r0["masks"][b], r1["masks"][b]))

    def test_range_penalty_sees_values_outside_the_integer_formats(self):
        import copy
        from training.model import pruned as net
        from training.stages.selector_training import train_steps
        from training.model.pruned import QCtx
        m = copy.deepcopy(self.model)
        sel = m.selectors["4"]
        with torch.no_grad():   # inside the formats: the penalty is exactly zero
            sel.range_terms = []
            m(self.x, sched=[(4, 0.5)], train_sel=True, rule="hard")
            self.assertEqual(len(sel.range_terms), 2 * 4 + 1)   # l1, l2, l3, delta per head; hb1
            self.assertEqual(float(torch.stack(sel.range_terms).sum()), 0.0)
            # a grown l3 (as pruning-aware training lets it grow) leaves the Q10 pre-GELU range
            for l3 in sel.l3:
                l3.weight.mul_(40.0)
                l3.bias.add_(net.GELU_IN_LIM)
            sel.range_terms = []
            m(self.x, sched=[(4, 0.5)], train_sel=True, rule="hard")
            before = float(torch.stack(sel.range_terms).sum())
            sel.range_terms = None
        self.assertGreater(before, 0.0)
        # training with the penalty brings the values back; the hooks are removed afterwards
        import tempfile
        import os
        with tempfile.TemporaryDirectory() as d:
            x = self.x.repeat(4, 1, 1)
            y = torch.arange(len(x)) % 10
            train_steps(m, x, y, 6, lambda g, s: [(4, 0.5)], QCtx("float"), 0.0, 1e-2,
                        os.path.join(d, "c.pt"), 0, None, "t", bs=16, ckpt_every=100,
                        rule="hard", range_w=1.0)
        self.assertIsNone(sel.range_terms)
        with torch.no_grad():
            sel.range_terms = []
            m(self.x, sched=[(4, 0.5)], train_sel=True, rule="hard")
            after = float(torch.stack(sel.range_terms).sum())
            sel.range_terms = None
        self.assertLess(after, 0.5 * before)

    def test_selector_ranges_record_the_largest_values(self):
        import copy
        from training.model import pruned as net
        from training.analyses.selector_ranges import selector_ranges
        m = copy.deepcopy(self.model)
        r0 = selector_ranges(m, self.x)
        self.assertEqual(set(r0), {"pre", "delta"})
        self.assertGreater(r0["pre"], 0.0)
        self.assertTrue(all(s.range_max is None for s in m.selectors.values()))
        with torch.no_grad():   # an l3 bias beyond the Q10 pre-GELU range shows up exactly
            for l3 in m.selectors["4"].l3:
                l3.weight.zero_()
                l3.bias.fill_(2 * net.GELU_IN_LIM)
        r1 = selector_ranges(m, self.x)
        self.assertAlmostEqual(r1["pre"], max(r0["pre"], 2 * net.GELU_IN_LIM), places=4)

    def test_selector_parts_quantise_exactly_what_they_name(self):
        from training.model.pruned import QCtx, SEL_PARTS
        qc = QCtx("calib")
        with torch.no_grad():
            self.model(self.x, qc=qc, probe=True)
        qq = QCtx("qat", qc.finish_calib())
        sel = self.model.selectors["4"]
        xp = torch.randn(3, 49, 64) * 3
        keep = (torch.rand(3, 49) > 0.3).float()
        with torch.no_grad():
            s_float = sel(xp, keep, QCtx("float"), "s4")
            s_qat = sel(xp, keep, qq, "s4")
            try:
                sel.qpart = (set(SEL_PARTS), qq)
                s_all = sel(xp, keep, QCtx("float"), "s4")
                sel.qpart = (set(), qq)
                s_none = sel(xp, keep, QCtx("float"), "s4")
                sel.qpart = ({"l3"}, qq)
                s_l3 = sel(xp, keep, QCtx("float"), "s4")
            finally:
                sel.qpart = None
        self.assertTrue(torch.equal(s_all, s_qat))
        self.assertTrue(torch.equal(s_none, s_float))
        self.assertFalse(torch.equal(s_l3, s_float))
        self.assertFalse(torch.equal(s_l3, s_qat))

    def test_adapt_schedule_mix(self):
        from training.model.shape import CANDIDATE_BLOCKS
        for dense_every, p_on in ((4, 0.3), (8, 0.3), (0, 0.3), (4, 0.6)):
            g = torch.Generator().manual_seed(0)
            scheds = [adapt_sched(g, s, dense_every, p_on) for s in range(4000)]
            for s, sc in enumerate(scheds):
                if dense_every and s % dense_every == 0:
                    self.assertEqual(sc, [])
                for b, k in sc:
                    self.assertIn(b, CANDIDATE_BLOCKS)
                    self.assertTrue(0.35 <= k <= 0.95)
            pruned = [sc for s, sc in enumerate(scheds) if not (dense_every and s % dense_every == 0)]
            # random_sched: 10 % empty, else each candidate on with p_on (one at random if none)
            empty = sum(1 for sc in pruned if not sc) / len(pruned)
            self.assertAlmostEqual(empty, 0.1, delta=0.03)
            n_on = np.mean([len(sc) for sc in pruned if sc])
            want = len(CANDIDATE_BLOCKS) * p_on + (1 - p_on) ** len(CANDIDATE_BLOCKS)
            self.assertAlmostEqual(n_on, want, delta=0.15)

    def test_adapt_schedule_mac_band(self):
        from training.model.costs import DENSE_MACS, expected_tokens, model_macs
        g = torch.Generator().manual_seed(0)
        scheds = [adapt_sched(g, s, 4, 0.3, (0.3, 0.55)) for s in range(4000)]
        pruned = [sc for s, sc in enumerate(scheds) if s % 4]
        self.assertTrue(all(sc == [] for s, sc in enumerate(scheds) if s % 4 == 0))
        # the empty subset keeps its 10 % (drawn once, not once per retry)
        self.assertAlmostEqual(sum(1 for sc in pruned if not sc) / len(pruned), 0.1, delta=0.03)
        saved = [1 - model_macs(*expected_tokens(sc)) / DENSE_MACS for sc in pruned if sc]
        self.assertTrue(all(0.3 <= v <= 0.55 for v in saved))
        self.assertLess(min(saved), 0.32)
        self.assertGreater(max(saved), 0.53)
        # no band: the draws of the unbanded sampler, unchanged
        g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        self.assertEqual([adapt_sched(g1, s, 4, 0.3) for s in range(200)],
                         [adapt_sched(g2, s, 4, 0.3, None) for s in range(200)])
        # a band no subset reaches
        with self.assertRaisesRegex(ValueError, "no random subset inside it"):
            adapt_sched(torch.Generator().manual_seed(0), 1, 4, 0.3, (0.99, 1.0))

    def test_gumbel_rule_samples(self):
        sched = [(3, 0.6)]
        _, aux_a = self.run_train(1, "gumbel", sched)
        _, aux_b = self.run_train(2, "gumbel", sched)
        self.assertFalse(torch.equal(aux_a["masks"][3], aux_b["masks"][3]))


if __name__ == "__main__":
    unittest.main()
