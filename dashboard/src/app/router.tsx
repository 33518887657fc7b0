/**
 * Hash routes (#/send, #/history/gift/<id>, ...): the addresses the dashboard always had, and a build that
 * stays relative (Vite base "./", config.json beside index.html), so it loads from any path; a page's address
 * loads when opened directly, bookmarked or shared.
 */
import { createHashRouter } from "react-router";
import { App } from "./App";

export const router = createHashRouter([{ path: "*", element: <App /> }]);
