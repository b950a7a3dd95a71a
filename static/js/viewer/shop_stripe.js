/* Stripe's Payment Element in the checkout panel (PAYMENT_BACKEND=stripe). Stripe.js must come
 * from js.stripe.com (Stripe's rule: never bundled or self-hosted), so it is loaded on first use,
 * the way @stripe/stripe-js's loadStripe does; only the viewer pages' CSP allows that origin
 * (liveshop/csp.py). The order becomes paid by Stripe's webhook, never by this page: after
 * confirmPayment the page polls the order until the webhook has landed. */
import { gettext } from "../lib/i18n.js";

const STRIPE_JS = "https://js.stripe.com/v3/";
const POLL_MS = 1000;
const POLL_LIMIT_MS = 60000;

let loading = null;
let session = null; // {stripe, elements, clientSecret}

function loadStripe() {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = STRIPE_JS;
    script.async = true;
    script.addEventListener("load", () => (window.Stripe ? resolve(window.Stripe) : reject(new Error("Stripe.js did not start."))));
    script.addEventListener("error", () => {
      loading = null;
      reject(new Error(gettext("The payment form could not be loaded: check your connection and try again.")));
    });
    document.head.append(script);
  });
  return loading;
}

async function mount(el, publishableKey, clientSecret) {
  if (session?.clientSecret === clientSecret) return;
  const Stripe = await loadStripe();
  const stripe = Stripe(publishableKey);
  const elements = stripe.elements({
    clientSecret,
    appearance: { theme: "stripe", variables: { colorPrimary: "#e0245e", borderRadius: "10px" } },
  });
  el.replaceChildren();
  elements.create("payment", { layout: "tabs" }).mount(el);
  session = { stripe, elements, clientSecret };
}

/** Confirm the payment; answers {order} once the webhook decided, or {error}. Cards that need a
 * redirect (some wallets, bank steps) come back to `returnUrl`, the order page. */
async function confirm(orderApiUrl, returnUrl) {
  if (!session) return { error: gettext("The payment form is still loading.") };
  const { error } = await session.stripe.confirmPayment({
    elements: session.elements,
    confirmParams: { return_url: returnUrl },
    redirect: "if_required",
  });
  if (error) return { error: error.message || gettext("The payment failed.") };
  const deadline = Date.now() + POLL_LIMIT_MS;
  let order = null;
  while (Date.now() < deadline) {
    const response = await fetch(orderApiUrl, { credentials: "same-origin", cache: "no-store" });
    order = response.ok ? await response.json() : order;
    if (order && order.status !== "pending") break;
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
  session = null;
  return order ? { order } : { error: gettext("We could not confirm your payment yet: check your e-mail.") };
}

export const payWithStripe = { mount, confirm };
