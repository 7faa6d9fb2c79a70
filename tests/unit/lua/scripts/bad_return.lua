return { procss = function() end }
