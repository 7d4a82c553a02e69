-- Quarto filter (listed under `filters:` in _quarto.yml): nbdev links every backticked name of the
-- library to the absolute doc_host address (https://distill-edu.github.io/distill_edu/page.html#name).
-- All pages of the course sit in one folder, so the page-relative link (page.html#name) reaches the
-- same place on the published site and also stays inside a local preview (nbdev_preview).
-- SITE must be settings.ini's doc_host + doc_baseurl + "/" (tests/test_site_config.py checks it).
local SITE = "https://distill-edu.github.io/distill_edu/"

function Link(el)
  if el.target:sub(1, #SITE) == SITE then
    el.target = el.target:sub(#SITE + 1)
    if el.target == "" then el.target = "index.html" end
  end
  return el
end
