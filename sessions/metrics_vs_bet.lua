-- metrics_vs_bet.lua - do the margin and importance metrics predict bit
-- error tolerance?  For every shipped model: mean margin and fraction of
-- neurons one flip away (per hidden layer, averaged), importance variance,
-- and accuracy at BER 0.05 and 0.1; then Spearman correlations.
--   betlab run sessions/metrics_vs_bet.lua [--quick]
-- Writes metrics_vs_bet.csv.  Full mode: metrics on 1,000 images, accuracy
-- on 10,000 images x 5 maps (a few minutes on 2 cores); --quick: 200/2.
local bl = require "betlab"
local quick = bl.session.quick()
local names = { "fc-p0", "fc-p0.01", "fc-p0.05", "fc-p0.1", "fc-p0.1-exact", "fc-reg",
                "vgg3-p0", "vgg3-p0.01", "vgg3-p0.05", "vgg3-p0.1" }
local models = bl.session.models(names, quick)
local ds = bl.session.data(quick, quick and 200 or 10000)
local mds = ds:subset(1, math.min(#ds, quick and 200 or 1000))
local rows = {}
for _, e in ipairs(models) do
  local m = e.model
  local mean_margin, one_flip, imp_var, nl = 0, 0, 0, 0
  for _, h in ipairs(m:margins(mds)) do
    local s = h:summary()
    mean_margin, one_flip, nl = mean_margin + s.mean, one_flip + s.flips_le[1], nl + 1
  end
  for _, imp in ipairs(m:importance(mds)) do imp_var = imp_var + imp.variance end
  local sw = bl.sweep{ model = m, data = ds, ber = { 0, 0.05, 0.1 }, reps = quick and 2 or 5,
                       seed = 1 }
  local r = sw:rows()
  rows[#rows + 1] = { model = e.name, mean_margin = mean_margin / nl, one_flip = one_flip / nl,
                      importance_var = imp_var / nl, clean = r[1].accuracy,
                      acc_005 = r[2].accuracy, acc_01 = r[3].accuracy }
  print(string.format("%-16s margin %8.2f  1-flip %.4f  imp.var %.3g  acc %.4f / %.4f / %.4f",
                      e.name, rows[#rows].mean_margin, rows[#rows].one_flip,
                      rows[#rows].importance_var, r[1].accuracy, r[2].accuracy, r[3].accuracy))
end
bl.csv.write("metrics_vs_bet.csv", { "model", "mean_margin", "one_flip", "importance_var",
                                     "clean", "acc_005", "acc_01" }, rows)
local function col(k) local t = {} for i, r in ipairs(rows) do t[i] = r[k] end return t end
print("\nSpearman correlation with accuracy (n = " .. #rows .. " models):")
local labels, values = {}, {}
for _, k in ipairs{ "mean_margin", "one_flip", "importance_var" } do
  for _, a in ipairs{ "acc_005", "acc_01" } do
    local rho = bl.stats.spearman(col(k), col(a))
    print(string.format("  %-15s vs %-8s rho = %6.3f", k, a, rho))
    labels[#labels + 1], values[#values + 1] = k .. "/" .. a, math.abs(rho == rho and rho or 0)
  end
end
print("\n|rho| per metric:\n" .. bl.plot.bars(labels, values, { width = 40 }))
print("wrote metrics_vs_bet.csv")
