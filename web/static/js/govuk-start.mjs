// Starts GOV.UK Frontend's components (menus, error summary focus, character counts...).
// Every page works without it.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();
