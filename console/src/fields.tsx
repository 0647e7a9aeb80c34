import type { ComponentChildren } from 'preact';

// Form fields and tables, labelled and laid out the same way on every tab.

/** A search form: Enter or the button runs `onSearch`; the page never reloads. */
export function SearchForm(props: { label: string; onSearch: () => void; children: ComponentChildren }) {
  return (
    <form
      class="filters"
      role="search"
      aria-label={props.label}
      onSubmit={(event) => {
        event.preventDefault();
        props.onSearch();
      }}
    >
      {props.children}
    </form>
  );
}

interface FieldProps<T extends string> {
  label: ComponentChildren;
  value: T;
  onValue: (value: T) => void;
  name?: string;
  disabled?: boolean;
  /** `inline`: label and control on one line; `grow`: takes the row's spare width. */
  layout?: 'inline' | 'grow';
}

/** A labelled text, search or date input. */
export function TextField(
  props: FieldProps<string> & {
    type?: 'text' | 'search' | 'date';
    required?: boolean;
    maxLength?: number;
    pattern?: string;
    placeholder?: string;
  },
) {
  return (
    <label class={props.layout}>
      {props.label}
      <input
        // Preact types each input type's attributes apart; these three take the same ones.
        type={(props.type ?? 'text') as 'text'}
        name={props.name}
        value={props.value}
        required={props.required}
        maxLength={props.maxLength}
        pattern={props.pattern}
        placeholder={props.placeholder}
        disabled={props.disabled}
        onInput={(event) => props.onValue(event.currentTarget.value)}
      />
    </label>
  );
}

/** A labelled choice among `options` (value, text). */
export function SelectField<T extends string>(
  props: FieldProps<T> & { options: readonly (readonly [T, string])[] },
) {
  return (
    <label class={props.layout}>
      {props.label}
      <select
        name={props.name}
        value={props.value}
        disabled={props.disabled}
        onChange={(event) => props.onValue(event.currentTarget.value as T)}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export type Column = string | { label: ComponentChildren; class?: string; title?: string; key?: string };

/** A table that scrolls sideways on a narrow screen, with its column headings. */
export function DataTable(props: {
  class: string;
  columns: readonly Column[];
  children: ComponentChildren;
  busy?: boolean;
  describedBy?: string;
}) {
  return (
    <div class="table-wrap">
      <table class={props.class} aria-busy={props.busy} aria-describedby={props.describedBy}>
        <thead>
          <tr>
            {props.columns.map((column, i) =>
              typeof column === 'string' ? (
                <th key={column} scope="col">
                  {column}
                </th>
              ) : (
                <th key={column.key ?? i} scope="col" class={column.class} title={column.title}>
                  {column.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
