using System.CommandLine;

namespace XenIac.Cli;

/// <summary>
/// An option whose value is one of a few words, handed to the handler as the domain's type (an enum) rather than
/// as a string it would have to parse again. A word not among them is a parse error: one <c>error:</c> line that
/// lists the words, exit 1 (the message a plain string option with the same words gave).
/// </summary>
internal static class ChoiceOption
{
    /// <summary>
    /// The option; its value is <c>null</c> when it is not given. With <paramref name="defaultValue"/>, help shows
    /// that default as its word ("[default: xl]"); the caller falls back to it (<c>GetValue(o) ?? defaultValue</c>).
    /// A default value factory would make help show the enum member ("Xl") instead, which is not what users type.
    /// </summary>
    /// <param name="choices">The words, in the order help and the error message list them, each with its value.</param>
    public static Option<T?> Create<T>(string name, string description, IReadOnlyList<(string Word, T Value)> choices, T? defaultValue = null)
        where T : struct, Enum
    {
        if (defaultValue is { } d)
        {
            var word = choices.FirstOrDefault(c => EqualityComparer<T>.Default.Equals(c.Value, d)).Word
                       ?? throw new ArgumentException($"{d} is not one of the choices", nameof(defaultValue));
            description += $" [default: {word}]";
        }
        var option = new Option<T?>(name) { Description = description };
        // The validator (its message, and tab completion) is the one a plain string option had.
        option.AcceptOnlyFromAmong([.. choices.Select(c => c.Word)]);
        option.CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return null;
            foreach (var (word, value) in choices)
                if (string.Equals(word, r.Tokens[0].Value, StringComparison.OrdinalIgnoreCase)) return value; // the validator decides on case
            return null;
        };
        return option;
    }
}
