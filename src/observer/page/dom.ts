// The few DOM members the observer page uses, typed here: the library compiles without the DOM
// library (it runs on servers too), and this file is the page's whole contact with the browser.

export interface PageElement {
  innerHTML: string;
  textContent: string | null;
  className: string;
  readonly dataset: Record<string, string | undefined>;
  open?: boolean;
  disabled?: boolean;
  closest(selector: string): PageElement | null;
  addEventListener(type: string, listener: (event: PageEvent) => void, capture?: boolean): void;
}

export interface PageEvent {
  readonly target: unknown;
}

interface PageGlobals {
  document: {
    title: string;
    getElementById(id: string): PageElement | null;
    addEventListener(type: string, listener: (event: PageEvent) => void, capture?: boolean): void;
  };
  location: { protocol: string; host: string };
}

export const browser = globalThis as unknown as PageGlobals;

export function element(id: string): PageElement {
  const found = browser.document.getElementById(id);
  if (!found) throw new Error(`The observer page has no #${id}.`);
  return found;
}

/** The element an event happened on, when it is an element. */
export function eventElement(event: PageEvent): PageElement | undefined {
  const target = event.target as Partial<PageElement> | null;
  return target && typeof target.closest === "function" ? (target as PageElement) : undefined;
}
