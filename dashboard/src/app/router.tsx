/**
 * Hash routes (#/send, #/history/gift/<id>, ...): S3 + CloudFront and MiniStack serve the files as they
 * are, with no fallback from an unknown path to index.html, so only the part after # can be a page's
 * address that loads when opened directly, bookmarked or shared.
 */
import { createHashRouter } from "react-router";
import { App } from "./App";

export const router = createHashRouter([{ path: "*", element: <App /> }]);
