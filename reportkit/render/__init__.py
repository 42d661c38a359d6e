"""Reports as documents: the block model, the wording outline, charts, fonts, the format
registry, the summary across units and the index page. The formats themselves live in
reportkit.export, whose module paths nbconvert's entry points name."""
