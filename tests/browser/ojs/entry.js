// Bundled by tests/browser/run.sh (esbuild) into ojs-bundle.js: the Observable libraries that
// Quarto's OJS uses, offline, for tests/browser/test_live_sliders.py.
import {Runtime} from "@observablehq/runtime";
import {Library, FileAttachments} from "@observablehq/stdlib";
import * as Inputs from "@observablehq/inputs";
import * as Plot from "@observablehq/plot";
import {parseModule} from "@observablehq/parser";
window.OJS = {Runtime, Library, FileAttachments, Inputs, Plot, parseModule};
